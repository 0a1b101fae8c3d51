"""AWS Bedrock upstreams through the Converse and ConverseStream APIs: one request shape for
every model family Bedrock serves, answered as JSON or as an AWS event stream."""

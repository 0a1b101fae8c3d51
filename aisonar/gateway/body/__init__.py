"""The checks every request body gets, whatever its wire format: `json_body` (what the
gateway takes as JSON, checked as the body is read), `duplicate_fields` (a billed field
named twice is refused), `output_limit` (the fields that bound an answer), `prompt_bound`
(the most tokens a prompt can bill, from its bytes) and `errors` (a body the decoders
refuse, as the client's 400).

Part of the gateway: it imports the gateway's `errors`; `http`, the endpoints and the wire
formats (`wire/`) use it."""

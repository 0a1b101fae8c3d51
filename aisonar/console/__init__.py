"""The web console: server-rendered pages for people, on the same domain services as the
management API, served by the same FastAPI app. Every page works without JavaScript;
the script only draws charts, copies secrets and reports page views with consent."""

"""Live endpoint collectors: TLS configuration, certificates and HTTPS headers of public endpoints."""

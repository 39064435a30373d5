"""PDF and HTML renderings of certificates and case files."""

"""Knowledge-base background work."""

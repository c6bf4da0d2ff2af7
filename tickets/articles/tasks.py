"""No background work: drafting and recording happen in the request."""

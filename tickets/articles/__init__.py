"""Tickets and the knowledge base: an article drafted from a solved ticket, and the articles
agents send in replies (recorded per ticket, counted per article)."""

"""Nothing here: no agent form of mail in needs its own class; the pages post plain fields. The
module exists so every feature package has the same shape (ARCHITECTURE.md)."""

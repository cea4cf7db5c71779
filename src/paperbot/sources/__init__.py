"""Paper sources: the only place paperbot makes HTTP calls, and where wire formats become Papers."""

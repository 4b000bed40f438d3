"""E-mail to members, driven by outbox events: who gets what, in which language, how it goes."""

"""Device pairing (RFC 8628-like): a CLI or desktop app starts a pairing, shows a short user code,
and polls while a signed-in user confirms that code in the dashboard; the first poll after the
approval collects a ``dk-`` device key (and, when asked, a companion ``ak-`` agent key)."""

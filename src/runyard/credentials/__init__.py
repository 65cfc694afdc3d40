"""Team API keys: integration (sk-), agent (ak-) and the listing/revocation of device keys (dk-)."""

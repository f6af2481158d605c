"""Request plumbing shared by the JSON API and the web pages."""

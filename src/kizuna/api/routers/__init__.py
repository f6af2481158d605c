"""One router per feature, each the JSON twin of the web pages of that feature."""

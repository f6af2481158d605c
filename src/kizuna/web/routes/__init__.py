"""One module per feature, each calling the same services as its JSON twin in ``kizuna.api``."""

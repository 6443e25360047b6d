"""Credit scoring models without Django: CSV loading, binning scorecard, monotone GBM, CV, artifacts."""

"""Exports for evaluators: streaming CSV (long and wide), codebook, XLSX, SPSS and FHIR."""

"""Reports: evidence store and manifest, findings, workbook (import only `controls`)."""

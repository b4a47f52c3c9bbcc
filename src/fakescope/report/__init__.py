"""Reports: JSON + CSV tables + PNG plots + one HTML page per run."""

from fakescope.report.html import Report, Section

__all__ = ["Report", "Section"]

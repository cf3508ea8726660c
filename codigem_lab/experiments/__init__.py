"""Studies: the result cache, the study registry, the paper's tables and figures as runs."""

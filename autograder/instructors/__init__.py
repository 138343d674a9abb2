"""What instructors run: collecting, grading a class (sandbox, judge, subjects), the ledger, the report."""

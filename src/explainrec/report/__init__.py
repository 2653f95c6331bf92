"""The report: one self-contained HTML page of a run.

:mod:`~explainrec.report.config` holds the ``report`` section of params.yaml,
:mod:`~explainrec.report.inputs` reads what the other stages wrote (their
markdown tables, the CSVs behind dvc.yaml's plots, the explanations of every
method for the test pairs), :mod:`~explainrec.report.charts` draws the plots as
inline SVG and :mod:`~explainrec.report.page` puts it all on one page with no
link to anything outside it.
"""

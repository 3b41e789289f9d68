"""The committed results as one product: the pipeline that regenerates them all at one
commit (:mod:`~bnn_models.results.pipeline`), the index that says what each folder answers
and how it was made (:mod:`~bnn_models.results.index`), and the check CI runs so that they
stay current (:mod:`~bnn_models.results.check`). The steps live in ``results/pipeline.toml``
(:mod:`~bnn_models.results.spec`)."""

from bnn_models.results.check import Problem, check_results
from bnn_models.results.index import build_index, index_problem, render_index, write_index
from bnn_models.results.pipeline import PipelineFailed, run_pipeline
from bnn_models.results.records import ResultFile, read_result, result_files
from bnn_models.results.spec import DEFAULT_PIPELINE, Pipeline, Step, load_pipeline

__all__ = [
    "DEFAULT_PIPELINE",
    "Pipeline",
    "PipelineFailed",
    "Problem",
    "ResultFile",
    "Step",
    "build_index",
    "check_results",
    "index_problem",
    "load_pipeline",
    "read_result",
    "render_index",
    "result_files",
    "run_pipeline",
    "write_index",
]

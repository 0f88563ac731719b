"""Analysis and benchmarks behind ``tools/analysis``, ``tools/data`` and
``tools/search``: the tools parse arguments, these modules do the work.

- :mod:`.flops`: MACs and parameters of a config's recognizer;
- :mod:`.latency` (:mod:`.latency_tf`): per-backend CPU latency benchmark;
- :mod:`.stream_memory`: peak memory of streaming inference and training;
- :mod:`.eval_modes`: stream vs whole-clip vs multi-clip evaluation;
- :mod:`.training_curve`: loss / accuracy / lr curves of a run;
- :mod:`.synthetic_report`: per-pair accuracy on the synthetic data;
- :mod:`.search_demo`: the TuNAS demo's steps;
- :mod:`.runs`: subprocess runs and their outputs (checkpoints, dumps);
- :mod:`.benchmark_utils`: timing, peak RSS and result lines (stdlib only).

Nothing is imported here: the benchmark workers run some of these modules
as scripts (the TF one under an interpreter without torch), and optional
dependencies are imported only where they are used.
"""

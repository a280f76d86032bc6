"""Export a sweep's results to other tools: MLflow (``to_mlflow``) and TensorBoard
(``to_tensorboard``), both from what ``experiments`` reads through the results API. The tools
themselves are optional extras, imported only when an export runs."""

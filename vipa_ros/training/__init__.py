"""Training and evaluation of VIPA models (metrics: vipa_ros.training.metrics)."""

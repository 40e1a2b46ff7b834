"""Analysis on cached features: train, evaluate, learning curves, probing, subsets and plots."""

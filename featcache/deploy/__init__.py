"""Deploy: the end-to-end model, export, fine-tuning and prediction on raw images."""

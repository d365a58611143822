"""The facial-emotion lab: FER2013 data, balancing, training, evaluation and inference."""

"""The explanation-aware recommender of LR-Recsys (paper 002), which RecPIE trains too: the text
autoencoder (``autoencoder``), the DNN (``model``), pairs as its inputs (``encoded``) and its
training and metrics (``train``)."""

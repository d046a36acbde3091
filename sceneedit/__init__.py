"""sceneedit: semantic scene editing through layer-wise GAN latent codes."""

__version__ = "0.1.0"

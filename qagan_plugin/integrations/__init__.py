"""Integrations with GAN training frameworks (only these modules know about them)."""

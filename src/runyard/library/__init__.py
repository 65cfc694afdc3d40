"""The team's model library: model files uploaded once (content-addressed by sha256), registered
with a ComfyUI models subfolder (``model_type``) and a relative ``model_path``, synced to the
team's agents while ``active``. (``runyard.models`` is the ORM package; this is the domain.)"""

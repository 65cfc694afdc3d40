"""Test peers for Runyard: small real servers that speak a third party's protocol.

``runyard_testing.comfyui_standin`` answers like a ComfyUI server (HTTP + WebSocket) so the
agent's ``comfyui`` runtime can be tested without GPUs or models. The peers reproduce observed
protocol behaviour; they are not substitutes for the real servers.
"""

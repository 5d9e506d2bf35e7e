"""Cross-modal contrastive learning (torch): losses, negative queue, image tower, pretraining,
ONNX export and site adaptation. See docs/learning.md.

Nothing is imported here: torch loads only when a submodule that needs it is imported, so
`import engine` and `import engine.learn` stay light (a test checks it).
"""

"""The HTTP routes, one module a group, each an `APIRouter` that `create_app` includes: the live
page (page), classification (classify), explanations (explain), translation (translate), the
loaded models and health (health), and the Open Inference Protocol v2 (v2). A route gets the
app's `Server` through `ServerDep`."""

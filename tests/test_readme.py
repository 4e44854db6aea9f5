"""The README's Python snippets run as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def snippet(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_nn_snippet_trains(capsys):
    namespace: dict = {}
    exec(snippet("## Neural networks"), namespace)   # noqa: S102
    history = namespace["history"]
    assert len(history["train_loss"]) == 2
    assert history["train_loss"][1] < history["train_loss"][0]
    assert "Y[" in capsys.readouterr().out


def test_derivative_snippet_prints_what_it_says():
    import tensorc as tc
    text = snippet("## Derivatives")
    g = tc.grad("Y[i] = x[i + a] * k[a]", of="Y", wrt=["x", "k"])
    for line in g.spec.splitlines():
        assert f"# {line}" in text


def test_derivative_snippet_jacobian_and_hessian_lines_are_printed():
    import tensorc as tc
    text = snippet("## Derivatives")
    calls = re.findall(r"^(tc\.(?:jacobian|hessian)\(.*\))\.spec\n# \.\.\. (.*)$", text, re.M)
    assert len(calls) == 3
    for call, line in calls:
        assert line in eval(call, {"tc": tc}).spec.splitlines()   # noqa: S307 (our README)

import numpy as np

from assistant.embedders.dense import MemoEmbedder, UseEmbedder


def test_memo_embeds_each_text_once_and_returns_the_same_vectors():
    calls: list[list[str]] = []

    class Counting(UseEmbedder):
        def embed_passages(self, texts):
            calls.append(list(texts))
            return super().embed_passages(texts)

    inner = Counting(threads=1)
    memo = MemoEmbedder(inner)
    first = memo.embed_passages(["Le conseil a voté.", "The council voted."])
    second = memo.embed_passages(["The council voted.", "议会投票了。", "Le conseil a voté."])
    assert calls == [["Le conseil a voté.", "The council voted."], ["议会投票了。"]]
    assert np.array_equal(first[0], second[2]) and np.array_equal(first[1], second[0])
    assert np.allclose(second[1], inner.embed_passages(["议会投票了。"])[0], atol=1e-5)
    assert memo.embed_passages([]).shape == (0, 512)

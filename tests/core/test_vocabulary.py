"""Subscriptions that mean what researchers mean: acronyms and their expansions both ways,
compounds, words near each other, the exact form, and the traps acronyms must not fall in."""

from __future__ import annotations

import pytest

from paperbot import commands
from paperbot.analysis import analyze
from paperbot.models import ChannelKey, CommandContext, MatchField
from paperbot.query import describe, evaluate, matched_as, parse
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.testing import make_paper
from paperbot.vocabulary import curated, mine_pairs, usable_pair

KEY = ChannelKey("console", "local", "t")
CTX = CommandContext(KEY, "U1")


def matches(query: str, title: str, abstract: str = "") -> bool:
    return evaluate(parse(query), analyze("2401.00001", title, abstract)).matched


@pytest.mark.parametrize(
    ("query", "title", "abstract"),
    [
        ("MoE", "Mixture of Experts Soften the Curse of Dimensionality", ""),
        ('"mixture of experts"', "Sparse MoEs at scale", ""),
        ("GNN", "Message passing", "We train a graph neural network on molecules."),
        ('"graph neural network"', "Scalable GNNs", ""),
        ("VLM", "Grounding", "Vision-language models fail at counting."),
        ("LLM agents", "Tool use", "A large language model agent plans its calls."),
        ("chain-of-thought", "Reasoning", "We prompt with CoT and verify each step."),
        ('"low-rank adaptation"', "LQ-LoRA: low-rank plus quantized fine-tuning", ""),
        ("RAG", "Retrieval-Augmented LLMs for medicine", ""),
        ("KVCache", "Compressing the KV cache of long prompts", ""),
        ('"KV cache"', "KVCache eviction", ""),
        ("3DGS", "Real-time Gaussian Splatting for scenes", ""),
        ("Text2Video", "A text-to-video model", ""),
        ("LoRA", "QLoRA: efficient finetuning of quantized LLMs", ""),
        ("reinforcement learning", "Policies", "We use reinforcement learning for control."),
        ("reinforcement learning", "Policies", "Our RL agent learns to walk."),
        ("reinforcement learning", "Policies", "learning grasps through reinforcement."),
        ("=MoE", "MoE layers", ""),
    ],
)
def test_the_issue_cases_match(query: str, title: str, abstract: str) -> None:
    assert matches(query, title, abstract)


@pytest.mark.parametrize(
    ("query", "title", "abstract"),
    [
        ("RL", "World models", "The world is big; rl-like words and worldly ones."),
        ("SAM", "Sample efficiency", "We sample the same samples; Sam wrote it."),
        ("RAG", "Leverage", "Average leverage of storage and a rag doll."),
        ("GAN", "An organ began", ""),
        ("LoRA", "Flora and explorations", ""),
        ("=MoE", "Mixture of Experts Soften the Curse", ""),
        ("MoE", "moe is a word here, not the acronym", ""),
        (
            "reinforcement learning",
            "Policies",
            "We study reinforcement of habits. Many other words follow here before any "
            "mention of learning.",
        ),
    ],
)
def test_near_misses_do_not_match(query: str, title: str, abstract: str) -> None:
    assert not matches(query, title, abstract)


def test_the_exact_form_is_shown_as_typed() -> None:
    assert describe(parse("=MoE")) == "=MoE exactly as written, no expansions"
    assert str(parse("=MoE")) == "=MoE" and str(parse(str(parse("=MoE")))) == "=MoE"


def test_and_keeps_anywhere_and_the_reply_says_how_it_was_read() -> None:
    far = (
        "We study reinforcement of habits. Many other words follow here before any "
        "mention of learning."
    )
    assert matches("reinforcement AND learning", "x", far)
    assert "within 5 words of each other" in describe(parse("reinforcement learning"))
    assert "also as 'mixture of experts'" in describe(parse("MoE"))
    assert describe(parse("diffusion")) == ""


def test_the_explanation_says_how_it_matched() -> None:
    doc = analyze("2401.1", "Mixture of Experts Soften the Curse", "")
    assert matched_as("MoE", doc) == "MoE as 'mixture of experts'"
    assert matched_as("MoE", analyze("2401.2", "MoE routing", "")) == ""


def test_mined_pairs_must_keep_acronyms_whole_and_case_aware() -> None:
    assert list(mine_pairs(["We use dynamical mean field theory (DMFT) here."])) == [
        ("DMFT", "dynamical mean field theory")
    ]
    assert not usable_pair("SAM", "sample")  # one word: SAM would match every sample
    assert not usable_pair("AND", "a new decoder")  # an ordinary word in capitals
    assert not usable_pair("XYZ", "graph neural network")  # initials do not spell it
    assert usable_pair("SAM", "Segment Anything Model")
    learned = curated().learn([("SAM", "sample"), ("DMFT", "dynamical mean field theory")])
    doc = analyze("2401.3", "Sample sizes", "", vocabulary=learned)
    assert not evaluate(parse("SAM"), doc).matched


async def test_pairs_mined_at_ingest_are_stored_and_used(bot: Paperbot, store: Store) -> None:
    bot.ingest_papers(
        [make_paper("Spectra", "We extend dynamical mean field theory (DMFT) to spins.")]
    )
    assert ("DMFT", "dynamical mean field theory") in store.learned_acronyms()
    later = make_paper("Spin glasses via dynamical mean field theory", "No acronym here.")
    fresh = Paperbot(store, bot.search_index, clock=bot.clock)  # a restart: read back
    doc = fresh.analyze(later)
    assert evaluate(parse("DMFT"), doc).field is MatchField.TITLE


async def test_invisible_characters_are_removed_and_catch_alls_refused(bot: Paperbot) -> None:
    reply = await commands.handle(bot, CTX, "/papers subscribe \u200bdiff\u00adusion\ufeff")
    assert not reply.is_error and "subscribed this channel to diffusion" in reply.text
    for typed in ("a", "the", "of", "[a-"):
        refused = await commands.handle(bot, CTX, f"/papers subscribe {typed}")
        assert refused.is_error and "only common words" in refused.text
    broad = await commands.handle(bot, CTX, "/papers subscribe model")
    assert broad.is_error and "64%" in broad.text and "narrow it" in broad.text
    read = await commands.handle(bot, CTX, "/papers subscribe reinforcement learning")
    assert "Read as: reinforcement and learning within 5 words" in read.text
    assert [s.query for s in await bot.subscriptions(KEY)] == [
        "diffusion",
        "reinforcement learning",
    ]

"""An OpenAI-compatible chat-completions endpoint (OpenAI, or a local Ollama, vLLM, llama.cpp
server under the same API), called over httpx; every failure becomes one SummaryError."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from paperbot.summaries.prompt import MAX_OUTPUT_TOKENS


class SummaryError(Exception):
    """The endpoint did not give a TL;DR: timeout, refusal, error status, or a malformed answer.
    The message names what happened, never the key or the request."""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    tokens: int


class ChatCompletions:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.http = http
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        headers = {"Content-Type": "application/json"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": MAX_OUTPUT_TOKENS,
            "temperature": 0.2,
            "stream": False,
        }
        try:
            response = await self.http.post(
                self.url, json=body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise SummaryError(f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise SummaryError(f"unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SummaryError(f"HTTP {response.status_code}")
        try:
            data: Any = response.json()
            text = data["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise SummaryError("malformed answer") from None
        if not isinstance(text, str):
            raise SummaryError("malformed answer")
        usage = data.get("usage") if isinstance(data, dict) else None
        tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
        if not isinstance(tokens, int) or tokens < 0:
            # Some local servers report no usage: count about four characters a token.
            tokens = (sum(len(m["content"]) for m in messages) + len(text)) // 4
        return Completion(text, tokens)

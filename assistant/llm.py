"""The chat model: any OpenAI-compatible endpoint through the openai client."""
from __future__ import annotations

from typing import Iterator

from .errors import BackendError
from .settings import Settings


class ChatModel:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = None

    def _get(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self.settings.llm_base_url or None,
                api_key=self.settings.llm_api_key or "not-needed",
                timeout=self.settings.llm_timeout,
                max_retries=self.settings.llm_max_retries,  # the client backs off exponentially
            )
        return self._client

    def stream(self, system: str, user: str, max_tokens: int = 700) -> Iterator[str]:
        """Yield the completion's text as it arrives; errors become one clear BackendError."""
        import openai

        where = self.settings.llm_base_url or "the OpenAI API"
        try:
            stream = self._get().chat.completions.create(
                model=self.settings.llm_model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=0,
                max_tokens=max_tokens,
                stream=True,
            )
            for event in stream:
                if event.choices and event.choices[0].delta and event.choices[0].delta.content:
                    yield event.choices[0].delta.content
        except openai.AuthenticationError as exc:
            raise BackendError(f"the LLM endpoint {where} rejected the API key (NEWSROOM_LLM_API_KEY): {exc.message}") from exc
        except openai.NotFoundError as exc:
            raise BackendError(f"the LLM endpoint {where} has no model '{self.settings.llm_model}' (NEWSROOM_LLM_MODEL)") from exc
        except openai.APITimeoutError as exc:
            raise BackendError(f"the LLM endpoint {where} did not answer within {self.settings.llm_timeout:g} s") from exc
        except openai.APIConnectionError as exc:
            raise BackendError(f"cannot reach the LLM endpoint {where}: is it running?") from exc
        except openai.APIError as exc:
            raise BackendError(f"the LLM endpoint {where} failed: {exc}") from exc

    def complete(self, system: str, user: str, max_tokens: int = 700) -> str:
        return "".join(self.stream(system, user, max_tokens))

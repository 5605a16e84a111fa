"""SmolLM2's chat template (ChatML), written out in Python instead of run as Jinja.

A chat model was fine-tuned on conversations laid out one way; give it the same layout:

    <|im_start|>system
    You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
    <|im_start|>user
    What is 2+2?<|im_end|>
    <|im_start|>assistant
                                    <- the model writes from here, and ends with <|im_end|>

The rules, read from the GGUF's `tokenizer.chat_template` (`SMOLLM2_TEMPLATE` below):
  - if the first message is not a system message, a default system message comes first;
  - each message is "<|im_start|>" + role + "\\n" + content + "<|im_end|>\\n";
  - with add_generation_prompt, "<|im_start|>assistant\\n" ends the text.
"""

from __future__ import annotations

SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

# The Jinja source as SmolLM2-135M-Instruct ships it; `default_system_from_template` checks a
# file's template against it, so a different template is an error, not a silent mismatch.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYOU_ARE<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def apply_chat_template(messages: list[dict], add_generation_prompt: bool = True,
                        default_system: str | None = SMOLLM2_DEFAULT_SYSTEM) -> str:
    """The conversation as SmolLM2 reads it; equal to transformers'
    `tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)`.
    `default_system=None` leaves out the default system message (the template never does).
    An empty conversation is an error, as in transformers."""
    if not messages:
        raise ValueError("apply_chat_template: the conversation is empty; give at least one "
                         "message")
    out = []
    for n, message in enumerate(messages):
        role, content = _role_and_content(message, n)
        if n == 0 and role != "system" and default_system is not None:
            out.append(f"<|im_start|>system\n{default_system}<|im_end|>\n")
        out.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def _role_and_content(message, n: int) -> tuple[str, str]:
    if not isinstance(message, dict) or "role" not in message or "content" not in message:
        raise ValueError(f"apply_chat_template: message {n} must be a dict with 'role' and "
                         f"'content', got {message!r}")
    role, content = message["role"], message["content"]
    if not isinstance(role, str) or not isinstance(content, str):
        raise TypeError(f"apply_chat_template: message {n} needs str role and content (the "
                        f"template joins them with +), got {type(role).__name__} and "
                        f"{type(content).__name__}")
    return role, content


def default_system_from_template(template: str) -> str:
    """The default system message of a SmolLM2-style template (GGUF `tokenizer.chat_template`).

    Raises if the template is not SmolLM2's with some system message, since then these
    rules may not be the model's."""
    head, tail = SMOLLM2_TEMPLATE.split("YOU_ARE")
    if not (template.startswith(head) and template.endswith(tail)
            and len(template) >= len(head) + len(tail)):
        raise ValueError("chat template is not SmolLM2's ChatML template; "
                         "apply_chat_template would not reproduce it")
    return template[len(head):len(template) - len(tail)]

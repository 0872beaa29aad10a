"""The Hugging Face Hub layer: search, metadata, config-only fetch, remote safetensors headers.

It uses the real ``huggingface_hub`` client, imported lazily inside functions
(importing this package stays cheap and never imports it). Modules:
``token`` (which token, kept secret), ``client`` (the one place failures are
mapped and retried), ``search``, ``info``, ``fetch``, ``headers``.

Public functions (import them from their modules):
``token.resolve_token``, ``search.search_models``, ``search.search_offline``,
``info.model_metadata``, ``fetch.fetch_config_files``, ``fetch.fetch_model``,
``fetch.model_source``, ``headers.remote_safetensors_headers``,
``headers.layer_storage``.
"""

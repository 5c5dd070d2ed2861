import pytest

from rag.settings import SettingsError, load_settings


def test_defaults_are_documented_values():
    s = load_settings(toml_path="/nonexistent.toml", env={})
    assert (s.corpus_dir, s.index_dir, s.k, s.backend) == ("seeds", "index", 5, "llama-cpp")


def test_precedence_toml_then_env_then_flags(tmp_path):
    cfg = tmp_path / "rag.toml"
    cfg.write_text('k = 3\nthreads = 1\ncorpus_dir = "docs"\n')
    s = load_settings(cfg, env={"RAG_K": "7", "RAG_VERIFY": "false"})
    assert (s.k, s.threads, s.corpus_dir, s.verify) == (7, 1, "docs", False)
    s = load_settings(cfg, env={"RAG_K": "7"}, overrides={"k": 2})
    assert s.k == 2


@pytest.mark.parametrize("env,msg", [({"RAG_K": "many"}, "must be int"), ({"RAG_VERIFY": "maybe"}, "must be bool")])
def test_bad_values_give_one_line_error(env, msg):
    with pytest.raises(SettingsError, match=msg):
        load_settings("/nonexistent.toml", env=env)


def test_unknown_key_in_toml_is_rejected(tmp_path):
    cfg = tmp_path / "rag.toml"
    cfg.write_text("chunk_size = 3\n")
    with pytest.raises(SettingsError, match="unknown setting 'chunk_size'"):
        load_settings(cfg, env={})


def test_overlap_must_be_smaller_than_chunk():
    with pytest.raises(SettingsError, match="overlap"):
        load_settings("/nonexistent.toml", env={}, overrides={"chunk_tokens": 50, "chunk_overlap": 50})


@pytest.mark.parametrize("name,value", [("backend", "gpt"), ("device", "tpu"), ("dtype", "float16"),
                                        ("evidence", "paragraphs"), ("prompt_lang", "fr")])
def test_fixed_choices_are_checked_when_loaded(name, value):
    with pytest.raises(SettingsError) as e:
        load_settings("/nonexistent.toml", env={f"RAG_{name.upper()}": value})
    msg = str(e.value)
    assert "\n" not in msg and repr(value) in msg and name in msg  # names the bad value and the allowed ones
    assert "auto" in msg or "llama-cpp" in msg or "sentences" in msg


def test_recorded_settings_are_complete_and_mask_the_api_key():
    s = load_settings("/nonexistent.toml", env={"RAG_OPENAI_API_KEY": "sk-secret"})
    rec = s.to_json()
    assert rec["keyword_weight"] == s.keyword_weight and rec["openai_api_key"] == "***"
    assert set(rec) == set(vars(s))

from rag.names import annotate_names, person_names, romanise


def test_surnames_with_their_own_reading_and_two_character_surnames():
    assert romanise("单忠德") == "Shan Zhongde"  # 单 reads dān elsewhere
    assert romanise("曾华") == "Zeng Hua"
    assert romanise("欧阳修") == "Ouyang Xiu"
    assert romanise("陶青") == "Tao Qing"


def test_words_jieba_tags_as_names_are_not_names():
    text = "工信部运行监测协调局局长陶青表示，要推动制造业智能化转型、高水平赋能，顾问邹德宝称海若大模型已落地。"
    assert person_names(text) == ["陶青", "邹德宝"]


def test_each_name_is_annotated_once():
    assert annotate_names("陶青表示，陶青认为") == "陶青 (Tao Qing)表示，陶青认为"
    assert annotate_names("没有人名的句子。") == "没有人名的句子。"

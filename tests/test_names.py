from rag.names import annotate_names, person_names, repair_names, romanise


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


def test_a_surname_translated_as_a_word_is_put_right_in_english_answers():
    src = ["工业和信息化部副部长单忠德介绍，截至2023年底……", "赛迪顾问邹德宝表示"]
    assert repair_names("It was Single Zhongde [1].", src) == "It was Shan Zhongde [1]."
    assert repair_names("Shan Zhongde said so [1].", src) == "Shan Zhongde said so [1]."
    assert repair_names("It was Single Zhongde [1].", ["No Chinese here."]) == "It was Single Zhongde [1]."
    # two people with the same given name: nothing to choose between, left alone
    assert repair_names("Single Zhongde", ["副部长单忠德介绍", "专家王忠德表示"]) == "Single Zhongde"


def test_answers_are_shown_with_names_repaired_in_english_only():
    from rag.answer import for_reader

    src = ["副部长单忠德介绍，机架总规模超过810万标准机架。"]
    assert for_reader("Single Zhongde said 8.1 million racks [1].", "en", src) == "Shan Zhongde said 8.1 million racks [1]."
    assert for_reader("单忠德说超过810万标准机架[1]。", "zh", src) == "单忠德说超过810万标准机架[1]。"

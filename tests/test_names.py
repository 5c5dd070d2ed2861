from rag.names import (
    annotate_names,
    names_asked_person,
    person_names,
    repair_names,
    romanise,
    states_asked_role,
)


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


def test_the_person_a_question_names_must_be_named_by_a_cited_chunk():
    hits = ["赛迪顾问股份有限公司总裁付长文表示，算力结构不平衡。", "邹德宝希望有关部门给予政策支持。",
            "Wang Peilin said the industry grows.", "王沛霖认为，规则不统一。"]
    assert not names_asked_person("邹德宝希望从哪方面给予支持？", hits[:1], hits)
    assert names_asked_person("邹德宝希望从哪方面给予支持？", hits[1:2], hits)
    # an English question's pinyin name, found in a Chinese chunk as the Han name or in an English one as it is
    assert names_asked_person("What does Wang Peilin think?", hits[3:], hits)
    assert names_asked_person("What does Wang Peilin think?", hits[2:3], hits)
    assert not names_asked_person("What does Wang Peilin think?", hits[:1], hits)
    # a Chinese question's name in an English chunk counts in pinyin, where the hits write it so
    assert names_asked_person("王沛霖怎么看？", hits[2:3], hits)
    # names that are not people of the hits, or no names at all: nothing to check
    assert names_asked_person("What did Hong Kong universities do?", hits[:1], hits)
    assert names_asked_person("马丁·路德出生在哪里？", ["Martin Luther was born in Eisleben."], ["Martin Luther was born."])
    assert names_asked_person("邹德宝在哪里工作？", ["Zou Debao works at CCID."], ["Zou Debao works at CCID."])
    assert not names_asked_person("邹德宝在哪里工作？", ["Fu Changwen works at CCID."], ["Zou Debao works at CCID."])
    assert names_asked_person("上海有多少家企业？", hits[:1], hits)


def test_a_chunk_naming_nobody_may_continue_the_asked_persons_words():
    """Fresh held-aside h2-en-006: Tao Qing's speech runs over several chunks; the cited one names nobody."""
    speech = ["Tao Qing said that China will deepen AI in manufacturing.",
              "Promote AI pilot demonstrations and form real productivity."]
    other = ["Yang Chunli said the industry grows.", "Promote AI pilot demonstrations and form real productivity."]
    question = "According to Tao Qing, what should AI pilots turn into?"
    assert names_asked_person(question, speech[1:], speech, documents=speech)
    # ... but not when the document names the person nowhere, or the chunk names someone else
    assert not names_asked_person(question, other[1:], other + speech[:1], documents=other)
    assert not names_asked_person(question, other[:1], other + speech[:1], documents=other + speech[:1])


def test_a_who_question_needs_the_asked_role_at_its_rank_in_a_cited_chunk_of_its_language():
    deputy = ["Yang Chunli, deputy director of the China Software Evaluation Center, said."]
    assert not states_asked_role("Who is the director of the China Software Evaluation Center?", deputy)
    assert states_asked_role("Who is the deputy director of the China Software Evaluation Center?", deputy)
    assert not states_asked_role("浪潮云的首席技术官是谁？", ["浪潮云行业总监尹萍说。"])
    assert states_asked_role("浪潮云的行业总监是谁？", ["浪潮云行业总监尹萍说。"])
    assert not states_asked_role("Who is the current Minister of Industry and Information Technology?",
                                 ["Ren Aiguang, director of the Science and Technology Department of MIIT, said."])
    # "CTO" is not found inside "director"; a question that asks no role, or no "who", is not checked
    assert states_asked_role("Who is the Inspur Cloud industry director?", ["Inspur Cloud industry director Yin Ping"])
    assert states_asked_role("Who founded SenseTime?", ["SenseTime was started by Tang Xiaoou."])
    assert states_asked_role("What did the director say?", ["The deputy director said so."])
    # across languages a role has too many names (总统, 导演): not checked
    assert states_asked_role("Who was the president of the United States in 1901?", ["1901年美国总统是麦金莱。"])

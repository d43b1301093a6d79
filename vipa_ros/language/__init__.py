"""Language: text command parsing (ROS-free) and speech recognition backends.

``parse_command("could you grab the red mug on the left please")`` -> ``ParsedCommand(action="pick",
expression="the red mug on the left", ...)``. The vocabulary is config/vocabulary.yaml
(:func:`load_vocabulary`); speech backends import their heavy dependencies lazily in their own modules.
"""
from .parser import CommandParser, ParsedCommand, default_parser, parse_command
from .vocabulary import Vocabulary, load_vocabulary, normalize

__all__ = ["CommandParser", "ParsedCommand", "Vocabulary", "default_parser", "load_vocabulary", "normalize",
           "parse_command"]

"""ros2 launch vipa_ros segment.launch.py [use_sim:=true] [command:='pick the blue cup'] [rviz:=true] ...

Starts vipa_segment (and, on request, the simulated tabletop camera, speech_node and rviz2). The node set,
parameters and remappings come from vipa_ros.nodes.launch_plan, which `vipa launch` also uses where the ros2
command line is not installed.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from vipa_ros.nodes.launch_plan import ARGUMENTS, dds_environment, plan


def _nodes(context):
    share = get_package_share_directory("vipa_ros")
    args = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    log_level = args["log_level"]
    env = dds_environment(os.path.join(share, "config"))
    return [Node(package="vipa_ros", executable=spec.executable, name=spec.name, namespace=spec.namespace,
                 parameters=spec.parameters, remappings=spec.remappings, output="screen",
                 ros_arguments=["--log-level", log_level], additional_env=env)
            for spec in plan(args, os.path.join(share, "config", "segment.yaml"))]


def generate_launch_description():
    share = get_package_share_directory("vipa_ros")
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, (default, text) in ARGUMENTS.items()]
    rviz = Node(package="rviz2", executable="rviz2", name="vipa_rviz", output="screen",
                arguments=["-d", os.path.join(share, "config", "vipa.rviz")],
                additional_env=dds_environment(os.path.join(share, "config")),
                condition=IfCondition(LaunchConfiguration("rviz")))
    return LaunchDescription(declared + [OpaqueFunction(function=_nodes), rviz])

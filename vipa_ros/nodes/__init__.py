"""Thin rclpy adapters around the ROS-free core. ROS message conversion lives here and nowhere else."""

"""The found cell at N @ F on ImageNet (or CIFAR) with Ray Train DDP."""

"""PyTorch's "Training a Classifier" (CIFAR-10) tutorial, unchanged but for FakeData in place of
the download and fewer steps, runs under ``chainrule run``; and torchvision's namespace maps to
chainrule.vision."""

from __future__ import annotations

import re

import pytest
from test_torch_shim import run

pytest.importorskip("PIL.Image", reason="Pillow (the 'images' extra) is not installed")
pytest.importorskip("matplotlib", reason="matplotlib (the 'plot' extra) is not installed")

TUTORIAL = """
    import torch
    import torchvision
    import torchvision.transforms as transforms
    import matplotlib.pyplot as plt
    import numpy as np
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    transform = transforms.Compose(
        [transforms.ToTensor(),
         transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    batch_size = 4
    trainset = torchvision.datasets.FakeData(size=16, image_size=(3, 32, 32), transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size,
                                              shuffle=True, num_workers=2)
    testset = torchvision.datasets.FakeData(size=8, image_size=(3, 32, 32), transform=transform,
                                            random_offset=100)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size,
                                             shuffle=False, num_workers=2)
    classes = ('plane', 'car', 'bird', 'cat',
               'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

    def imshow(img):
        img = img / 2 + 0.5     # unnormalize
        npimg = img.numpy()
        plt.imshow(np.transpose(npimg, (1, 2, 0)))
        plt.show()

    dataiter = iter(trainloader)
    images, labels = next(dataiter)
    imshow(torchvision.utils.make_grid(images))
    print(' '.join(f'{classes[labels[j]]:5s}' for j in range(batch_size)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1) # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    for epoch in range(2):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f'[{epoch + 1}] loss: {running_loss / 4:.3f}')

    PATH = './cifar_net.pth'
    torch.save(net.state_dict(), PATH)
    net = Net()
    net.load_state_dict(torch.load(PATH, weights_only=True))
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(4)))
    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    print(device)
"""


def test_cifar10_tutorial_runs_unchanged_on_fake_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, TUTORIAL)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"\[1\] loss: \d+\.\d{3}", lines[1]), lines[1]
    assert re.fullmatch(r"\[2\] loss: \d+\.\d{3}", lines[2]), lines[2]
    assert re.fullmatch(r"Accuracy of the network on the 8 test images: \d{1,3} %", lines[4]), lines[4]
    assert lines[-1] == "cpu"


def test_torchvision_names_resolve_to_chainrule_vision(tmp_path):
    result = run(tmp_path, """
        import torchvision
        from torchvision import models, utils, io
        from torchvision.models import ResNet18_Weights, resnet18
        import torchvision.transforms.functional as TF
        print(torchvision.models.resnet18 is resnet18, type(resnet18(num_classes=3)).__module__)
        print(utils.make_grid.__module__, io.read_image.__module__, TF.resize.__module__)
        print(torchvision.datasets.CIFAR10.__module__)
        try:
            torchvision.not_a_thing
        except NotImplementedError as error:
            print(error)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "True chainrule.vision.models.resnet",
        "chainrule.vision.utils chainrule.vision.io chainrule.transforms.functional",
        "chainrule.datasets.cifar",
        "torchvision.not_a_thing is not available in chainrule"]

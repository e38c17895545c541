"""Domains: signed distances, membership, interior and boundary sampling with normals, set operations."""

import math

import pytest
import torch

from kansci.pde.geometry import Ball, Box, Interval, Polygon, SpaceTime, annulus, l_shape

T = lambda *rows: torch.tensor(rows, dtype=torch.float64)  # noqa: E731


def _normals_point_outward(domain, x, normal, h=1e-4):
    """Away from corners a step along the normal leaves the domain and a step against it enters."""
    assert torch.allclose(normal.norm(dim=1), torch.ones(len(normal), dtype=torch.float64), atol=1e-12)
    outside = domain.sdf(x + h * normal)
    inside = domain.sdf(x - h * normal)
    smooth = (outside - h).abs() < 1e-9  # exactly h away: not near a corner or a joint
    assert smooth.float().mean() > 0.9
    assert bool((outside[smooth] > 0).all() and (inside[smooth] < 0).all())


def test_box_distance_membership_and_faces():
    box = Box([0, 0], [2, 1])
    d = box.sdf(T([1, 0.5], [3, 0.5], [1, 1], [3, 2]))
    assert torch.allclose(d, T(-0.5, 1.0, 0.0, math.sqrt(2)), atol=1e-15)
    x, normal = box.boundary_points(3000, seed=0)
    assert bool(box.on_boundary(x).all())
    _normals_point_outward(box, x, normal)
    long_faces = (normal[:, 1] != 0).double().mean()  # the two faces of length 2: 4 of the 6 units
    assert abs(float(long_faces) - 2 / 3) < 0.03


def test_interval_ends():
    line = Interval(-1.0, 2.0)
    x, normal = line.boundary_points(100, seed=0)
    assert set(x.flatten().tolist()) == {-1.0, 2.0}
    assert torch.equal(normal.flatten(), torch.where(x.flatten() > 0, 1.0, -1.0).double())


def test_ball_sampling_is_uniform_and_on_the_sphere():
    disk = Ball([1.0, -1.0], 2.0)
    x = disk.interior_points(4000, seed=0)
    assert x.shape == (4000, 2) and bool(disk.contains(x).all())
    inner = float(((x - disk.center).norm(dim=1) < 1.0).double().mean())
    assert abs(inner - 0.25) < 0.03  # the inner disk of radius 1 holds a quarter of the area
    y, normal = disk.boundary_points(500, seed=1)
    assert torch.allclose((y - disk.center).norm(dim=1), torch.full((500,), 2.0, dtype=torch.float64), atol=1e-12)
    _normals_point_outward(disk, y, normal)
    assert math.isclose(Ball([0, 0, 0], 1.0).boundary_measure(), 4 * math.pi)


def test_l_shape_polygon():
    shape = l_shape()
    assert torch.equal(
        shape.contains(T([-0.5, -0.5], [0.5, 0.5], [0.5, -0.5], [-0.5, 0.5])), torch.tensor([True, True, False, True])
    )
    assert abs(float(shape.sdf(T([0.5, -0.5]))) - 0.5) < 1e-15  # half a unit from the re-entrant edges
    x = shape.interior_points(3000, "sobol", seed=0)
    quadrants = [((x[:, 0] < 0) & (x[:, 1] < 0)), ((x[:, 0] > 0) & (x[:, 1] > 0)), ((x[:, 0] < 0) & (x[:, 1] > 0))]
    for q in quadrants:  # three unit squares, a third each
        assert abs(float(q.double().mean()) - 1 / 3) < 0.01
    y, normal = shape.boundary_points(2000, seed=0)
    assert bool(shape.on_boundary(y).all())
    _normals_point_outward(shape, y, normal)
    assert shape.boundary_measure() == 8.0
    clockwise = Polygon(list(reversed(shape.vertices.tolist())))
    assert torch.allclose(clockwise.sdf(x), shape.sdf(x))


def test_annulus_by_difference():
    ring = annulus([0.0, 0.0], 0.5, 1.0)
    x = ring.interior_points(2000, seed=0)
    r = x.norm(dim=1)
    assert bool(((r >= 0.5 - 1e-12) & (r <= 1.0 + 1e-12)).all())
    y, normal = ring.boundary_points(3000, seed=0)
    on_inner = (y.norm(dim=1) - 0.5).abs() < 1e-12
    on_outer = (y.norm(dim=1) - 1.0).abs() < 1e-12
    assert bool((on_inner | on_outer).all())
    assert abs(float(on_inner.double().mean()) - 1 / 3) < 0.03  # circumferences 0.5 : 1
    radial = (normal * y).sum(dim=1) / y.norm(dim=1)
    assert torch.allclose(radial[on_outer], torch.ones(int(on_outer.sum()), dtype=torch.float64))
    assert torch.allclose(radial[on_inner], -torch.ones(int(on_inner.sum()), dtype=torch.float64))  # into the hole
    _normals_point_outward(ring, y, normal)


def test_plate_with_holes_union_and_intersection():
    plate = Box([0, 0], [2, 1]) - Ball([0.5, 0.5], 0.2) - Ball([1.5, 0.5], 0.2)
    x = plate.interior_points(4000, seed=0)
    assert bool(plate.contains(x).all())
    area = 2 - 2 * math.pi * 0.04
    inside_box = Box([0, 0], [2, 1]).interior_points(20000, seed=1)
    assert abs(float(plate.contains(inside_box).double().mean()) * 2 - area) < 0.02
    y, normal = plate.boundary_points(2000, seed=0)
    assert bool(plate.on_boundary(y).all())
    _normals_point_outward(plate, y, normal)
    both = Ball([0, 0], 1.0) | Ball([1.5, 0], 1.0)
    lens = Ball([0, 0], 1.0) & Ball([1.0, 0], 1.0)
    for domain in (both, lens):
        y, normal = domain.boundary_points(1000, seed=2)
        assert bool(domain.on_boundary(y).all())
        _normals_point_outward(domain, y, normal)
        assert bool(domain.contains(domain.interior_points(500, seed=3)).all())


def test_part_of_the_boundary_and_space_time():
    box = Box([0, 0], [1, 1])
    x, normal = box.boundary_points(200, seed=0, where=lambda x: x[:, 0] == 0.0)
    assert bool((x[:, 0] == 0).all()) and bool((normal[:, 0] == -1).all())
    domain = SpaceTime(Ball([0, 0], 1.0), 0.0, 2.0)
    inner = domain.interior_points(300, seed=0)
    assert inner.shape == (300, 3) and bool(domain.contains(inner).all())
    wall, normal = domain.boundary_points(100, seed=0)
    assert torch.allclose(wall[:, :2].norm(dim=1), torch.ones(100, dtype=torch.float64))
    assert normal.shape == (100, 2) and float(wall[:, 2].min()) >= 0 and float(wall[:, 2].max()) <= 2
    start = domain.initial_points(50, seed=0)
    assert bool((start[:, 2] == 0).all())


def test_same_seed_same_points():
    shape = l_shape() - Ball([-0.5, 0.5], 0.25)
    assert torch.equal(shape.interior_points(100, "sobol", seed=3), shape.interior_points(100, "sobol", seed=3))
    assert torch.equal(shape.boundary_points(100, seed=3)[0], shape.boundary_points(100, seed=3)[0])
    assert not torch.equal(shape.boundary_points(100, seed=3)[0], shape.boundary_points(100, seed=4)[0])


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Box([0, 0], [0, 1]), "below its upper bound"),
        (lambda: Ball([0, 0], -1.0), "positive"),
        (lambda: Polygon([(0, 0), (1, 0)]), "at least 3 vertices"),
        (lambda: Polygon([(0, 0), (1, 0), (2, 0)]), "zero area"),
        (lambda: annulus([0, 0], 1.0, 0.5), "0 < inner < outer"),
        (lambda: Box([0], [1]) | Ball([0, 0], 1.0), "cannot join"),
        (lambda: (Ball([0, 0], 1.0) & Ball([5, 5], 1.0)).interior_points(10), "empty"),
        (lambda: Box([0, 0], [1, 1]).interior_points(0), "positive int"),
        (lambda: Box([0, 0], [1, 1]).contains(torch.zeros(3, 3)), "shape \\(batch, 2\\)"),
        (lambda: Box([0, 0], [1, 1]).boundary_points(10, where=lambda x: x[:, 0] > 5), "does where select"),
        (lambda: Box([0, 0], [1, 1]).interior_points(10, "grid"), "'uniform' or 'sobol'"),
    ],
)
def test_bad_domains_name_the_fix(build, match):
    with pytest.raises(ValueError, match=match):
        build()

"""The AI Feynman equations and the KAN paper's dimensionless variants as analytic datasets.

Importing this module registers

* ``feynman/<id>`` for the 100 equations of the AI Feynman table
  (Udrescu & Tegmark 2020, ``FeynmanEquations.csv``): the table's variable
  names, sampling ranges (``v_low``..``v_high``) and output names;
* ``feynman_dimless/<id>`` for the dimensionless forms that Liu et al. 2024
  (KAN, arXiv 2404.19756, Section 3.3, Table 2) fit. The paper states a range
  only for velocity addition (u, v in (-1, 1)); every other range is chosen
  here so that the formula is finite and real, and each description says so.

Ids are the table's file names; the table drops trailing zeros of the
Feynman Lectures' equation numbers (``I.6.2a`` is eq. I.6.20a, ``I.15.1`` is
I.15.10), which the descriptions note.

Corrections to the published table
----------------------------------
* III.9.52: the table's prefactor ``p_d*Ef*t/hbar`` is squared here. The
  transition probability is the squared amplitude (Feynman Lectures III, eq.
  9.52: ``P = (mu E0 T / hbar)^2 sin^2(x)/x^2``), and SRSD (Matsubara et al.
  2022) makes the same fix. The dimensionless form ``a sin^2/..`` is unchanged,
  with ``a`` the squared group.
* Some rows of the published csv give a ``# variables`` that disagrees with
  the variables listed (I.18.12, I.18.14, I.38.12, II.37.1, III.10.19,
  III.19.51); the listed variables are used.

Kept as published, with a note in the description: I.29.16 has
``-2*x1*x2*cos`` (the Lectures' phasor sum has ``+``; the two differ by a
phase shift of pi, and the KAN paper uses the minus sign), and II.11.28 names
its output ``theta`` (it is the dielectric constant). ``lambd`` is the
table's spelling of ``lambda`` (a Python keyword).

Examples
--------
>>> from kansci.datasets import load
>>> data = load("feynman_dimless/I.16.6", n_train=100, n_test=10)
>>> data.input_names, data.formula
(('a', 'b'), (a + b)/(a*b + 1))
"""

from __future__ import annotations

import sympy

from kansci.datasets.registry import FunctionSpec, register_spec

__all__ = ["DIMENSIONLESS", "EQUATIONS"]

# One row per equation: "id | output | formula (sympy syntax) | name low high, ... | description".
_TABLE: tuple[str, ...] = (
    "I.6.2a | f | exp(-theta**2/2)/sqrt(2*pi) | theta 1 3 | standard normal density (eq. I.6.20a)",
    "I.6.2 | f | exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma) | sigma 1 3, theta 1 3 | normal density (eq. I.6.20)",
    "I.6.2b | f | exp(-((theta-theta1)/sigma)**2/2)/(sqrt(2*pi)*sigma) | sigma 1 3, theta 1 3, theta1 1 3 | "
    "normal density with mean theta1 (eq. I.6.20b)",
    "I.8.14 | d | sqrt((x2-x1)**2+(y2-y1)**2) | x1 1 5, x2 1 5, y1 1 5, y2 1 5 | distance between two points",
    "I.9.18 | F | G*m1*m2/((x2-x1)**2+(y2-y1)**2+(z2-z1)**2) | "
    "m1 1 2, m2 1 2, G 1 2, x1 3 4, x2 1 2, y1 3 4, y2 1 2, z1 3 4, z2 1 2 | "
    "Newtonian gravitational force between two point masses",
    "I.10.7 | m | m_0/sqrt(1-v**2/c**2) | m_0 1 5, v 1 2, c 3 10 | relativistic mass",
    "I.11.19 | A | x1*y1+x2*y2+x3*y3 | x1 1 5, x2 1 5, x3 1 5, y1 1 5, y2 1 5, y3 1 5 | dot product of two 3-vectors",
    "I.12.1 | F | mu*Nn | mu 1 5, Nn 1 5 | friction force: coefficient times normal force",
    "I.12.2 | F | q1*q2*r/(4*pi*epsilon*r**3) | q1 1 5, q2 1 5, epsilon 1 5, r 1 5 | Coulomb force between two charges",
    "I.12.4 | Ef | q1*r/(4*pi*epsilon*r**3) | q1 1 5, epsilon 1 5, r 1 5 | electric field of a point charge",
    "I.12.5 | F | q2*Ef | q2 1 5, Ef 1 5 | force on a charge in an electric field",
    "I.12.11 | F | q*(Ef+B*v*sin(theta)) | q 1 5, Ef 1 5, B 1 5, v 1 5, theta 1 5 | Lorentz force on a moving charge",
    "I.13.4 | K | 1/2*m*(v**2+u**2+w**2) | m 1 5, v 1 5, u 1 5, w 1 5 | kinetic energy",
    "I.13.12 | U | G*m1*m2*(1/r2-1/r1) | m1 1 5, m2 1 5, r1 1 5, r2 1 5, G 1 5 | "
    "change of gravitational potential energy",
    "I.14.3 | U | m*g*z | m 1 5, g 1 5, z 1 5 | potential energy in uniform gravity",
    "I.14.4 | U | 1/2*k_spring*x**2 | k_spring 1 5, x 1 5 | potential energy of a spring",
    "I.15.3x | x1 | (x-u*t)/sqrt(1-u**2/c**2) | x 5 10, u 1 2, c 3 20, t 1 2 | Lorentz transformation of position",
    "I.15.3t | t1 | (t-u*x/c**2)/sqrt(1-u**2/c**2) | x 1 5, c 3 10, u 1 2, t 1 5 | Lorentz transformation of time",
    "I.15.1 | p | m_0*v/sqrt(1-v**2/c**2) | m_0 1 5, v 1 2, c 3 10 | relativistic momentum (eq. I.15.10)",
    "I.16.6 | v1 | (u+v)/(1+u*v/c**2) | c 1 5, v 1 5, u 1 5 | relativistic velocity addition",
    "I.18.4 | r | (m1*r1+m2*r2)/(m1+m2) | m1 1 5, m2 1 5, r1 1 5, r2 1 5 | centre of mass of two bodies",
    "I.18.12 | tau | r*F*sin(theta) | r 1 5, F 1 5, theta 0 5 | torque",
    "I.18.14 | L | m*r*v*sin(theta) | m 1 5, r 1 5, v 1 5, theta 1 5 | angular momentum",
    "I.24.6 | E_n | 1/2*m*(omega**2+omega_0**2)*1/2*x**2 | m 1 3, omega 1 3, omega_0 1 3, x 1 3 | "
    "energy of a driven harmonic oscillator",
    "I.25.13 | Volt | q/C | q 1 5, C 1 5 | voltage across a capacitor",
    "I.26.2 | theta1 | asin(n*sin(theta2)) | n 0 1, theta2 1 5 | Snell's law of refraction",
    "I.27.6 | foc | 1/(1/d1+n/d2) | d1 1 5, d2 1 5, n 1 5 | focal distance of a refracting surface",
    "I.29.4 | k | omega/c | omega 1 10, c 1 10 | wave number of light",
    "I.29.16 | x | sqrt(x1**2+x2**2-2*x1*x2*cos(theta1-theta2)) | x1 1 5, x2 1 5, theta1 1 5, theta2 1 5 | "
    "amplitude of two superposed oscillations (table's minus sign kept: the Lectures' +cos, phase shifted by pi)",
    "I.30.3 | Int | Int_0*sin(n*theta/2)**2/sin(theta/2)**2 | Int_0 1 5, theta 1 5, n 1 5 | "
    "intensity of n equally spaced coherent sources",
    "I.30.5 | theta | asin(lambd/(n*d)) | lambd 1 2, d 2 5, n 1 5 | "
    "angular half-width of a diffraction maximum (lambd is lambda, a Python keyword)",
    "I.32.5 | Pwr | q**2*a**2/(6*pi*epsilon*c**3) | q 1 5, a 1 5, epsilon 1 5, c 1 5 | "
    "Larmor power radiated by an accelerated charge",
    "I.32.17 | Pwr | (1/2*epsilon*c*Ef**2)*(8*pi*r**2/3)*(omega**4/(omega**2-omega_0**2)**2) | "
    "epsilon 1 2, c 1 2, Ef 1 2, r 1 2, omega 1 2, omega_0 3 5 | power scattered by a bound electron",
    "I.34.8 | omega | q*v*B/p | q 1 5, v 1 5, B 1 5, p 1 5 | cyclotron angular frequency",
    "I.34.1 | omega | omega_0/(1-v/c) | c 3 10, v 1 2, omega_0 1 5 | Doppler shift of a moving source (eq. I.34.10)",
    "I.34.14 | omega | (1+v/c)/sqrt(1-v**2/c**2)*omega_0 | c 3 10, v 1 2, omega_0 1 5 | relativistic Doppler shift",
    "I.34.27 | E_n | (h/(2*pi))*omega | omega 1 5, h 1 5 | photon energy hbar*omega",
    "I.37.4 | Int | I1+I2+2*sqrt(I1*I2)*cos(delta) | I1 1 5, I2 1 5, delta 1 5 | intensity of two interfering waves",
    "I.38.12 | r | 4*pi*epsilon*(h/(2*pi))**2/(m*q**2) | m 1 5, q 1 5, h 1 5, epsilon 1 5 | Bohr radius",
    "I.39.1 | E_n | 3/2*pr*V | pr 1 5, V 1 5 | energy of a monatomic ideal gas (eq. I.39.10)",
    "I.39.11 | E_n | 1/(gamma-1)*pr*V | gamma 2 5, pr 1 5, V 1 5 | internal energy of an ideal gas",
    "I.39.22 | pr | n*kb*T/V | n 1 5, T 1 5, V 1 5, kb 1 5 | ideal gas law",
    "I.40.1 | n | n_0*exp(-m*g*x/(kb*T)) | n_0 1 5, m 1 5, x 1 5, T 1 5, g 1 5, kb 1 5 | "
    "barometric (Boltzmann) density",
    "I.41.16 | L_rad | h/(2*pi)*omega**3/(pi**2*c**2*(exp((h/(2*pi))*omega/(kb*T))-1)) | "
    "omega 1 5, T 1 5, h 1 5, kb 1 5, c 1 5 | Planck's black-body radiation law",
    "I.43.16 | v | mu_drift*q*Volt/d | mu_drift 1 5, q 1 5, Volt 1 5, d 1 5 | drift velocity in a field",
    "I.43.31 | D | mob*kb*T | mob 1 5, T 1 5, kb 1 5 | Einstein relation for the diffusion constant",
    "I.43.43 | kappa | 1/(gamma-1)*kb*v/A | gamma 2 5, kb 1 5, A 1 5, v 1 5 | thermal conductivity of a gas",
    "I.44.4 | E_n | n*kb*T*log(V2/V1) | n 1 5, kb 1 5, T 1 5, V1 1 5, V2 1 5 | work of an isothermal expansion",
    "I.47.23 | c | sqrt(gamma*pr/rho) | gamma 1 5, pr 1 5, rho 1 5 | speed of sound",
    "I.48.2 | E_n | m*c**2/sqrt(1-v**2/c**2) | m 1 5, v 1 2, c 3 10 | relativistic energy (eq. I.48.20)",
    "I.50.26 | x | x1*(cos(omega*t)+alpha*cos(omega*t)**2) | x1 1 3, omega 1 3, t 1 3, alpha 1 3 | "
    "oscillator with a quadratic nonlinearity",
    "II.2.42 | Pwr | kappa*(T2-T1)*A/d | kappa 1 5, T1 1 5, T2 1 5, A 1 5, d 1 5 | heat flow through a slab",
    "II.3.24 | flux | Pwr/(4*pi*r**2) | Pwr 1 5, r 1 5 | flux of a point source",
    "II.4.23 | Volt | q/(4*pi*epsilon*r) | q 1 5, epsilon 1 5, r 1 5 | potential of a point charge",
    "II.6.11 | Volt | 1/(4*pi*epsilon)*p_d*cos(theta)/r**2 | epsilon 1 3, p_d 1 3, theta 1 3, r 1 3 | "
    "potential of an electric dipole",
    "II.6.15a | Ef | p_d/(4*pi*epsilon)*3*z/r**5*sqrt(x**2+y**2) | "
    "epsilon 1 3, p_d 1 3, r 1 3, x 1 3, y 1 3, z 1 3 | transverse field of an electric dipole",
    "II.6.15b | Ef | p_d/(4*pi*epsilon)*3*cos(theta)*sin(theta)/r**3 | epsilon 1 3, p_d 1 3, theta 1 3, r 1 3 | "
    "transverse dipole field in polar coordinates",
    "II.8.7 | E_n | 3/5*q**2/(4*pi*epsilon*d) | q 1 5, epsilon 1 5, d 1 5 | "
    "electrostatic energy of a uniformly charged sphere",
    "II.8.31 | E_den | epsilon*Ef**2/2 | epsilon 1 5, Ef 1 5 | energy density of an electric field",
    "II.10.9 | Ef | sigma_den/epsilon*1/(1+chi) | sigma_den 1 5, epsilon 1 5, chi 1 5 | "
    "field in a dielectric-filled capacitor",
    "II.11.3 | x | q*Ef/(m*(omega_0**2-omega**2)) | q 1 3, Ef 1 3, m 1 3, omega_0 3 5, omega 1 2 | "
    "displacement of a driven bound charge",
    "II.11.17 | n | n_0*(1+p_d*Ef*cos(theta)/(kb*T)) | n_0 1 3, kb 1 3, T 1 3, theta 1 3, p_d 1 3, Ef 1 3 | "
    "density of polar molecules in a field (high temperature)",
    "II.11.20 | Pol | n_rho*p_d**2*Ef/(3*kb*T) | n_rho 1 5, p_d 1 5, Ef 1 5, kb 1 5, T 1 5 | "
    "orientation polarisation of polar molecules",
    "II.11.27 | Pol | n*alpha/(1-(n*alpha/3))*epsilon*Ef | n 0 1, alpha 0 1, epsilon 1 2, Ef 1 2 | "
    "Clausius-Mossotti polarisation",
    "II.11.28 | theta | 1+n*alpha/(1-(n*alpha/3)) | n 0 1, alpha 0 1 | "
    "Clausius-Mossotti dielectric constant (the table names the output theta)",
    "II.13.17 | B | 1/(4*pi*epsilon*c**2)*2*I/r | epsilon 1 5, c 1 5, I 1 5, r 1 5 | magnetic field of a straight wire",
    "II.13.23 | rho_c | rho_c_0/sqrt(1-v**2/c**2) | rho_c_0 1 5, v 1 2, c 3 10 | relativistic charge density",
    "II.13.34 | j | rho_c_0*v/sqrt(1-v**2/c**2) | rho_c_0 1 5, v 1 2, c 3 10 | relativistic current density",
    "II.15.4 | E_n | -mom*B*cos(theta) | mom 1 5, B 1 5, theta 1 5 | energy of a magnetic dipole in a field",
    "II.15.5 | E_n | -p_d*Ef*cos(theta) | p_d 1 5, Ef 1 5, theta 1 5 | energy of an electric dipole in a field",
    "II.21.32 | Volt | q/(4*pi*epsilon*r*(1-v/c)) | q 1 5, epsilon 1 5, r 1 5, v 1 2, c 3 10 | "
    "Lienard-Wiechert potential of a moving charge",
    "II.24.17 | k | sqrt(omega**2/c**2-pi**2/d**2) | omega 4 6, c 1 2, d 2 4 | wave number in a waveguide",
    "II.27.16 | flux | epsilon*c*Ef**2 | epsilon 1 5, c 1 5, Ef 1 5 | Poynting flux of a plane wave",
    "II.27.18 | E_den | epsilon*Ef**2 | epsilon 1 5, Ef 1 5 | energy density of a plane wave",
    "II.34.2a | I | q*v/(2*pi*r) | q 1 5, v 1 5, r 1 5 | current of a charge on a circular orbit",
    "II.34.2 | mom | q*v*r/2 | q 1 5, v 1 5, r 1 5 | magnetic moment of an orbiting charge",
    "II.34.11 | omega | g_*q*B/(2*m) | g_ 1 5, q 1 5, B 1 5, m 1 5 | Larmor precession frequency",
    "II.34.29a | mom | q*h/(4*pi*m) | q 1 5, h 1 5, m 1 5 | Bohr magneton q*hbar/(2m)",
    "II.34.29b | E_n | g_*mom*B*Jz/(h/(2*pi)) | g_ 1 5, h 1 5, Jz 1 5, mom 1 5, B 1 5 | "
    "Zeeman energy of an atom in a field",
    "II.35.18 | n | n_0/(exp(mom*B/(kb*T))+exp(-mom*B/(kb*T))) | n_0 1 3, kb 1 3, T 1 3, mom 1 3, B 1 3 | "
    "two-state spin populations in a field",
    "II.35.21 | M | n_rho*mom*tanh(mom*B/(kb*T)) | n_rho 1 5, mom 1 5, B 1 5, kb 1 5, T 1 5 | "
    "magnetisation of a spin-1/2 paramagnet",
    "II.36.38 | f | mom*H/(kb*T)+(mom*alpha)/(epsilon*c**2*kb*T)*M | "
    "mom 1 3, H 1 3, kb 1 3, T 1 3, alpha 1 3, epsilon 1 3, c 1 3, M 1 3 | "
    "mean-field (Weiss) argument of a ferromagnet",
    "II.37.1 | E_n | mom*(1+chi)*B | mom 1 5, B 1 5, chi 1 5 | energy of a moment in a magnetised medium",
    "II.38.3 | F | Y*A*x/d | Y 1 5, A 1 5, d 1 5, x 1 5 | Hooke's law for a stretched bar",
    "II.38.14 | mu_S | Y/(2*(1+sigma)) | Y 1 5, sigma 1 5 | shear modulus from Young's modulus and Poisson ratio",
    "III.4.32 | n | 1/(exp((h/(2*pi))*omega/(kb*T))-1) | h 1 5, omega 1 5, kb 1 5, T 1 5 | "
    "Bose-Einstein occupation number",
    "III.4.33 | E_n | (h/(2*pi))*omega/(exp((h/(2*pi))*omega/(kb*T))-1) | h 1 5, omega 1 5, kb 1 5, T 1 5 | "
    "mean energy of a quantum oscillator",
    "III.7.38 | omega | 2*mom*B/(h/(2*pi)) | mom 1 5, B 1 5, h 1 5 | spin precession frequency",
    "III.8.54 | prob | sin(E_n*t/(h/(2*pi)))**2 | E_n 1 2, t 1 2, h 1 4 | transition probability of a two-state system",
    "III.9.52 | prob | (p_d*Ef*t/(h/(2*pi)))**2*sin((omega-omega_0)*t/2)**2/((omega-omega_0)*t/2)**2 | "
    "p_d 1 3, Ef 1 3, t 1 3, h 1 3, omega 1 5, omega_0 1 5 | "
    "transition probability near resonance (prefactor squared as in the Lectures; the csv omits the square)",
    "III.10.19 | E_n | mom*sqrt(Bx**2+By**2+Bz**2) | mom 1 5, Bx 1 5, By 1 5, Bz 1 5 | "
    "energy of a magnetic moment in a field",
    "III.12.43 | L | n*(h/(2*pi)) | n 1 5, h 1 5 | quantised angular momentum",
    "III.13.18 | v | 2*E_n*d**2*k/(h/(2*pi)) | E_n 1 5, d 1 5, k 1 5, h 1 5 | "
    "velocity of an electron in a crystal lattice",
    "III.14.14 | I | I_0*(exp(q*Volt/(kb*T))-1) | I_0 1 5, q 1 2, Volt 1 2, kb 1 2, T 1 2 | current through a diode",
    "III.15.12 | E_n | 2*U*(1-cos(k*d)) | U 1 5, k 1 5, d 1 5 | energy band of a one-dimensional lattice",
    "III.15.14 | m | (h/(2*pi))**2/(2*E_n*d**2) | h 1 5, E_n 1 5, d 1 5 | effective mass in a lattice",
    "III.15.27 | k | 2*pi*alpha/(n*d) | alpha 1 5, n 1 5, d 1 5 | allowed wave numbers of a periodic lattice",
    "III.17.37 | f | beta*(1+alpha*cos(theta)) | beta 1 5, alpha 1 5, theta 1 5 | angular distribution of a decay",
    "III.19.51 | E_n | -m*q**4/(2*(4*pi*epsilon)**2*(h/(2*pi))**2)*(1/n**2) | "
    "m 1 5, q 1 5, h 1 5, n 1 5, epsilon 1 5 | energy levels of hydrogen",
    "III.21.20 | j | -rho_c_0*q*A_vec/m | rho_c_0 1 5, q 1 5, A_vec 1 5, m 1 5 | "
    "current density from the vector potential",
)

# The paper's Table 2 forms (the paper's ids and variable names).
_DIMENSIONLESS_TABLE: tuple[str, ...] = (
    "I.6.2 | f | exp(-theta**2/(2*sigma**2))/sqrt(2*pi*sigma**2) | theta -1 1, sigma 0.5 2 | "
    "normal density, already dimensionless",
    "I.6.2b | f | exp(-(theta-theta1)**2/(2*sigma**2))/sqrt(2*pi*sigma**2) | theta -1 1, theta1 -1 1, sigma 0.5 2 | "
    "normal density with mean theta1",
    "I.9.18 | F_scaled | a/((b-1)**2+(c-d)**2+(e-f)**2) | a -1 1, b -1 0, c -1 1, d -1 1, e -1 1, f -1 1 | "
    "gravity, lengths in units of x1: b=x2/x1, c=y2/x1, d=y1/x1, e=z2/x1, f=z1/x1, a=G m1 m2/x1^2 per force unit; "
    "b<0 keeps the denominator >= 1",
    "I.12.11 | F_over_qEf | 1+a*sin(theta) | a -1 1, theta 0 2*pi | Lorentz force F/(q Ef), a=B v/Ef",
    "I.13.12 | U_scaled | a*(1/b-1) | a -1 1, b 0.5 2 | "
    "gravitational energy change, a=G m1 m2/r1 in energy units, b=r2/r1",
    "I.15.3x | x1_over_x | (1-a)/sqrt(1-b**2) | a -1 1, b -0.9 0.9 | Lorentz transformation x1/x, a=u t/x, b=u/c",
    "I.16.6 | v1_over_c | (a+b)/(1+a*b) | a -1 1, b -1 1 | relativistic velocity addition v1/c, a=u/c, b=v/c",
    "I.18.4 | r_over_r1 | (1+a*b)/(1+a) | a 0.5 2, b -1 1 | "
    "centre of mass r/r1, a=m2/m1 > 0 (no pole at a=-1), b=r2/r1",
    "I.26.2 | theta1 | asin(n*sin(theta2)) | n 0 1, theta2 0 2*pi | "
    "Snell's law, already dimensionless; n<1 keeps asin real",
    "I.27.6 | foc_over_d1 | 1/(1+a*b) | a 0.5 2, b 0.5 2 | focal distance foc/d1, a=n, b=d1/d2",
    "I.29.16 | x_over_x1 | sqrt(1+a**2-2*a*cos(theta1-theta2)) | a -1 1, theta1 0 2*pi, theta2 0 2*pi | "
    "superposed amplitudes x/x1, a=x2/x1",
    "I.30.3 | Int_over_Int_0 | sin(n*theta/2)**2/sin(theta/2)**2 | n 1 5, theta 1 5 | "
    "n-source interference Int/Int_0; sin(theta/2) >= 0.47",
    "I.30.5 | theta | asin(a/n) | a -1 1, n 1 2 | diffraction half-width, a=lambda/d; a/n in (-1, 1) keeps asin real",
    "I.37.4 | Int_over_I1 | 1+a+2*sqrt(a)*cos(delta) | a 0 1, delta 0 2*pi | "
    "two-wave interference Int/I1, a=I2/I1 >= 0",
    "I.40.1 | n | n_0*exp(-a) | n_0 0 1, a -1 1 | barometric density, a=m g x/(kb T)",
    "I.44.4 | E_n_over_kbT | n*log(a) | n 0 1, a 0.5 2 | isothermal work E_n/(kb T), a=V2/V1 > 0",
    "I.50.26 | x_over_x1 | cos(a)+alpha*cos(a)**2 | a 0 2*pi, alpha -1 1 | anharmonic oscillation x/x1, a=omega t",
    "II.2.42 | Pwr_scaled | (a-1)*b | a 0.5 2, b -1 1 | heat flow Pwr/(kappa T1 d), a=T2/T1, b=A/d^2",
    "II.6.15a | Ef_scaled | c*sqrt(a**2+b**2)/(4*pi) | a -1 1, b -1 1, c -1 1 | "
    "dipole field Ef epsilon r^3/p_d, a=x/r, b=y/r, c=3z/r",
    "II.11.7 | n | n_0*(1+a*cos(theta)) | n_0 0 1, a -1 1, theta 0 2*pi | "
    "polar molecules in a field (AI Feynman II.11.17; the paper writes II.11.7), a=p_d Ef/(kb T)",
    "II.11.27 | Pol_over_epsEf | n*alpha/(1-n*alpha/3) | n 0 1, alpha 0 1 | "
    "Clausius-Mossotti Pol/(epsilon Ef); n alpha < 1, no pole",
    "II.35.18 | n | n_0/(exp(a)+exp(-a)) | n_0 0 1, a -1 1 | two-state spin populations, a=mom B/(kb T)",
    "II.36.38 | f | a+alpha*b | a -1 1, alpha -1 1, b -1 1 | "
    "Weiss mean field, a=mom H/(kb T), b=mom M/(epsilon c^2 kb T)",
    "II.38.3 | F_over_YA | a/b | a -1 1, b 0.5 2 | Hooke's law F/(Y A), a=x/l0, b=d/l0 for a length unit l0",
    "III.9.52 | prob | a*sin((b-c)/2)**2/((b-c)/2)**2 | a 0 1, b 2.5 5, c 0 2 | "
    "resonance transition probability, a=(p_d Ef t/hbar)^2, b=omega t, c=omega_0 t; "
    "b > c avoids 0/0 at resonance",
    "III.10.19 | E_n_over_mom_Bx | sqrt(1+a**2+b**2) | a -1 1, b -1 1 | "
    "moment in a field E_n/(mom Bx), a=By/Bx, b=Bz/Bx",
    "III.17.37 | f | beta*(1+alpha*cos(theta)) | beta 0 1, alpha -1 1, theta 0 2*pi | "
    "angular distribution, already dimensionless",
)

_PAPER_RANGES = frozenset({"I.16.6"})
_TABLE_RANGES = frozenset({"I.30.3", "II.11.27"})

EQUATIONS: tuple[str, ...] = tuple(row.split(" | ")[0] for row in _TABLE)
"""The 100 AI Feynman ids, in the table's order (registered as ``feynman/<id>``)."""

DIMENSIONLESS: tuple[str, ...] = tuple(row.split(" | ")[0] for row in _DIMENSIONLESS_TABLE)
"""The KAN paper's Feynman ids, in its order (registered as ``feynman_dimless/<id>``)."""


def _parse_variables(text: str) -> tuple[tuple[str, ...], tuple[tuple[float, float], ...]]:
    """``"a -1 1, b 0 2*pi"`` -> (("a", "b"), ((-1.0, 1.0), (0.0, 6.28...)))."""
    names, ranges = [], []
    for item in text.split(","):
        name, low, high = item.split()
        names.append(name)
        ranges.append((float(sympy.sympify(low)), float(sympy.sympify(high))))
    return tuple(names), tuple(ranges)


def _function_spec(prefix: str, row: str, range_note: str = "") -> FunctionSpec:
    """Parse one table row into a :class:`FunctionSpec` named ``prefix/id``."""
    equation_id, output, formula, variables, description = row.split(" | ")
    names, ranges = _parse_variables(variables)
    symbols = {name: sympy.Symbol(name, real=True) for name in names}
    expr = sympy.sympify(formula, locals=symbols)
    unused = set(names) - {str(s) for s in expr.free_symbols}
    if unused or expr.has(sympy.I):
        raise ValueError(f"{prefix}/{equation_id}: formula {formula!r} does not use {sorted(unused)} or is complex")
    return FunctionSpec(
        name=f"{prefix}/{equation_id}",
        variables=names,
        ranges=ranges,
        expr=expr,
        output=output,
        description=description + range_note,
    )


def _range_note(equation_id: str) -> str:
    if equation_id in _PAPER_RANGES:
        return "; ranges from the paper"
    if equation_id in _TABLE_RANGES:
        return "; ranges from the AI Feynman table"
    return "; ranges chosen here (the paper gives none)"


def _register_all() -> None:
    for row in _TABLE:
        register_spec(_function_spec("feynman", row))
    for row, equation_id in zip(_DIMENSIONLESS_TABLE, DIMENSIONLESS):
        register_spec(_function_spec("feynman_dimless", row, _range_note(equation_id)))


_register_all()
